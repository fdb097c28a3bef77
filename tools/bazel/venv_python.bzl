"""Registers the project's virtualenv interpreter as the Python toolchain.

py_test actions see a minimal PATH, so `python3` there is whatever the host has. Pointing the
toolchain at <workspace>/.venv/bin/python3 makes every test run on the pinned packages of
requirements/lock.txt, exactly as `make run` and a developer's shell do.
"""

_BUILD = """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

py_runtime(
    name = "py3",
    interpreter_path = "{interpreter}",
    python_version = "PY3",
    stub_shebang = "#!{interpreter}",
)

py_runtime_pair(name = "pair", py3_runtime = ":py3")

toolchain(
    name = "toolchain",
    toolchain = ":pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
"""

def _venv_python_impl(rctx):
    workspace_root = rctx.path(Label("@//:WORKSPACE")).dirname
    interpreter = workspace_root.get_child(".venv").get_child("bin").get_child("python3")
    if not interpreter.exists:
        fail("no virtualenv at %s: run `make venv` (or `make test`) first" % interpreter)
    rctx.file("BUILD.bazel", _BUILD.format(interpreter = interpreter))

venv_python = repository_rule(
    implementation = _venv_python_impl,
    local = True,
)
