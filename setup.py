"""Build hook only: compiles the native core through cffi. Metadata lives in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["native/_build.py:ffibuilder"])
