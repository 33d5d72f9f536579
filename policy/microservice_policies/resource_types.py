"""Resource type tokens the rules look at (as the engine names them)."""

DOCKER_CONTAINER = "docker:index/container:Container"
LOCAL_COMMAND = "command:local:Command"

K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
K8S_DAEMONSET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRONJOB = "kubernetes:batch/v1:CronJob"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_SERVICE = "kubernetes:core/v1:Service"

# Workloads that keep serving: they need probes. Jobs run to completion and need none.
K8S_SERVING_WORKLOADS = (K8S_DEPLOYMENT, K8S_STATEFULSET, K8S_DAEMONSET, K8S_POD)
K8S_WORKLOADS = (*K8S_SERVING_WORKLOADS, K8S_JOB, K8S_CRONJOB)
