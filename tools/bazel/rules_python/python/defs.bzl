"""The subset of rules_python's public API that HCS (and @bazel_tools) uses, forwarded to native rules."""

load("@bazel_tools//tools/python:toolchain.bzl", _py_runtime_pair = "py_runtime_pair")

py_library = native.py_library
py_binary = native.py_binary
py_test = native.py_test
py_runtime = native.py_runtime
py_runtime_pair = _py_runtime_pair
