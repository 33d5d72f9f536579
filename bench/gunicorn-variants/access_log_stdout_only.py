# Bench diagnostic, not shipped: the shipped /app/gunicorn.conf.py unchanged except that access log
# lines go to stdout only, not also to access.log through ConcurrentRotatingFileHandler (which takes
# a file lock for every line). Tells how much of the shipped config's cost is that file handler.
import runpy

globals().update({k: v for k, v in runpy.run_path("/app/gunicorn.conf.py").items() if not k.startswith("__")})
logconfig_dict["loggers"]["gunicorn.access"]["handlers"] = ["stdout_access"]  # type: ignore[name-defined] # noqa: F821
