"""The live-deploy harness: the test stack's real program carried out on the local Docker engine.

- deployer.py: `StackDeployer.up()` runs the program once (run_stack.py, in its own process) and
  cleans up after it; copy_program, image and log-dir cleanup;
- mocks.py: `DockerEngineMocks`, Pulumi mocks that create what the program declares on the engine
  (resources.py: image, network, volume, command; container.py: the container), `OrderingMonitor`;
- declared.py: reading declared inputs strictly, the harness's errors;
- probing.py: `Prober` (GET every 50 ms from a thread) and `wait_for_http`.

docs/live-deploy.md says what it stands in for and where it is simpler than the real engine.
"""
