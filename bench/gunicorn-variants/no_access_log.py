# Bench diagnostic, not shipped: the shipped /app/gunicorn.conf.py unchanged except that gunicorn
# writes no access log at all (as the old config, which set no accesslog). Tells how much of the
# shipped config's cost is access logging as a whole.
import runpy

globals().update({k: v for k, v in runpy.run_path("/app/gunicorn.conf.py").items() if not k.startswith("__")})
logconfig_dict["loggers"]["gunicorn.access"]["handlers"] = []  # type: ignore[name-defined] # noqa: F821
logconfig_dict["loggers"]["gunicorn.access"]["propagate"] = False  # type: ignore[name-defined] # noqa: F821
