"""Resource type tokens as the engine names them: the one list the tests use.

Written out here rather than taken from the policy pack (policy/microservice_policies/resource_types.py),
so that the tests check the pack against independently spelt tokens.
"""

DOCKER_PROVIDER = "pulumi:providers:docker"
COMMAND_PROVIDER = "pulumi:providers:command"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"

IMAGE = "docker:index/image:Image"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"

NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
JOB = "kubernetes:batch/v1:Job"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
POD_DISRUPTION_BUDGET = "kubernetes:policy/v1:PodDisruptionBudget"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"

# The program's own components (microservice-model:index:<class>).
SERVICE_IMAGE = "microservice-model:index:ServiceImage"
DOCKER_RUNTIME = "microservice-model:index:DockerRuntime"
DOCKER_MIGRATION = "microservice-model:index:DockerMigration"
DOCKER_API = "microservice-model:index:DockerApi"
KUBERNETES_RUNTIME = "microservice-model:index:KubernetesRuntime"
KUBERNETES_MIGRATION = "microservice-model:index:KubernetesMigration"
KUBERNETES_API = "microservice-model:index:KubernetesApi"
KUBERNETES_NETWORK = "microservice-model:index:KubernetesNetwork"
DOCKER_FRONT = "microservice-model:index:DockerFront"

# Resource names (not types) the docker target declares: the app container and the front proxy's.
API_CONTAINER = "api-container"
FRONT_CONTAINER = "front-container"
