"""pytest under Bazel: `pytest_test` runs one test file, `pytest_tests` one target per file."""

load("@rules_python//python:defs.bzl", "py_test")

_MAIN = "//tools/bazel:pytest_main.py"
_CONFIG = "//:pyproject.toml"

def pytest_test(name, src, deps = [], data = [], env = {}, size = "small", tags = []):
    """A py_test that runs `src` with pytest and the workspace's pytest settings."""
    py_test(
        name = name,
        srcs = [src, _MAIN],
        main = _MAIN,
        args = ["-c", "$(location %s)" % _CONFIG, "--rootdir", ".", "$(location %s)" % src],
        data = data + [_CONFIG] + native.glob(["tests/conftest.py"]),
        env = env,
        deps = deps,
        size = size,
        tags = tags,
    )

def pytest_tests(name, srcs, deps = [], data = [], size = "small", tags = []):
    """A pytest_test per file in `srcs` (named after the file) and a test_suite `name`.

    One target per file lets Bazel run and cache test files independently.
    """
    tests = []
    for src in srcs:
        test_name = src[:-len(".py")].split("/")[-1]
        pytest_test(name = test_name, src = src, deps = deps, data = data, size = size, tags = tags)
        tests.append(test_name)
    native.test_suite(name = name, tests = tests, tags = tags)

def pytest_session(name, srcs, deps = [], data = [], env = {}, size = "large", tags = []):
    """One py_test that runs every file of `srcs` in a single pytest session.

    For tests that share something costly to start once per session (a control plane): one
    target keeps it to one start, where `pytest_tests` would start one per file.
    """
    main = "//tools/bazel:pytest_main.py"
    py_test(
        name = name,
        srcs = srcs + [main],
        main = main,
        args = ["-c", "$(location %s)" % _CONFIG, "--rootdir", "."] +
               ["$(location %s)" % src for src in srcs],
        data = data + [_CONFIG] + native.glob(["conftest.py"]),
        env = env,
        deps = deps,
        size = size,
        tags = tags,
    )
