# lavabuild's PEP 517 / PEP 660 hook runner. Compiled into lavabuild as a string and run as
#   PYTHON -c <this file> REQUEST RESULT
# in the source tree, by run_hook (src/build/hook.cpp; the protocol is in src/build/hook.hpp).
# It runs one hook of the build backend and writes the hook's return value, or what went
# wrong, to RESULT as JSON. The backend's own output goes to stdout/stderr (the build log).
# Python 3.6 or newer; only the standard library.
import sys

# `-c` puts the working directory (the source tree) first on sys.path. PEP 517 backends
# must not import from it unless backend-path says so (setuptools' __legacy__ backend adds
# it itself, as setup.py expects).
if sys.path and sys.path[0] == "":
    del sys.path[0]

import json  # noqa: E402
import os  # noqa: E402
from importlib import import_module  # noqa: E402
from importlib.machinery import PathFinder  # noqa: E402

# traceback is imported only when there is one to print: it costs ~10 ms, a fifth of a
# trivial hook's run.


def print_exc():
    import traceback

    traceback.print_exc()

PROTOCOL = "lavabuild.hook.v1"


class Failure(Exception):
    """Something other than the hook itself went wrong; status names it."""

    def __init__(self, status, message, module=None):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.module = module


def write_result(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def load_backend(spec, backend_path):
    module_name, _, object_path = spec.partition(":")
    if backend_path:
        # PEP 517: an in-tree backend MUST be loaded from backend-path.
        sys.path[:0] = backend_path
        top = module_name.split(".")[0]
        if PathFinder.find_spec(top, backend_path) is None:
            raise Failure(
                "backend_invalid",
                "the build backend module %r is not in backend-path %s"
                % (top, ", ".join(backend_path)),
            )
    try:
        backend = import_module(module_name)
    except ImportError as e:
        missing = getattr(e, "name", None)
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            print_exc()
            raise Failure("backend_unavailable", "cannot import %r" % module_name, missing)
        raise  # the backend is there, something it imports is not: a failure of the hook
    if object_path:
        for part in object_path.split("."):
            try:
                backend = getattr(backend, part)
            except AttributeError:
                raise Failure(
                    "backend_invalid",
                    "the build backend %r has no attribute %r" % (spec, part),
                )
    return backend


def call_hook(backend, request):
    name = request["hook"]
    hook = getattr(backend, name, None)
    if hook is None:
        return {"status": "hook_missing"}
    settings = request["config_settings"]
    if name.startswith("get_requires_for_"):
        value = hook(settings)
        if not isinstance(value, (str, bytes)):
            value = list(value)
    elif name.startswith("prepare_metadata_for_"):
        value = hook(request["directory"], settings)
    else:
        value = hook(request["directory"], settings, request["metadata_directory"])
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"status": "bad_return", "message": "%s returned %.200r" % (name, value)}
    return {"status": "ok", "value": value}


def main(request_path, result_path):
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    if request.get("protocol") != PROTOCOL:
        sys.exit("lavabuild hook runner: unknown protocol %r" % request.get("protocol"))
    try:
        backend = load_backend(request["backend"], request["backend_path"])
        result = call_hook(backend, request)
    except Failure as e:
        result = {"status": e.status, "message": e.message}
        if e.module:
            result["module"] = e.module
    except SystemExit as e:  # distutils reports errors this way: "error: command ... failed"
        sys.stderr.write("SystemExit: %s\n" % (e.code,))
        result = {"status": "error", "message": "SystemExit: %s" % (e.code,)}
    except BaseException as e:  # noqa: B036 -- reported, then the runner fails
        print_exc()
        result = {"status": "error", "message": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.flush()
    sys.stderr.flush()
    write_result(result_path, result)
    return 0 if result["status"] in ("ok", "hook_missing") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
