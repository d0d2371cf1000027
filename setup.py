"""
Packaging for action-llama.

The twistd dropin lives in ``twisted/plugins`` (no ``__init__.py`` there), and
is listed as a package so that a normal install puts it where twistd looks.
"""

from setuptools import find_packages, setup

setup(
    name="action-llama",
    version="0.1.0",
    description=(
        "A self-hosted service that runs autonomous agents on cron schedules, "
        "webhooks and calls, with a gateway for control, status and webhooks."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=[
        *find_packages(include=["action_llama", "action_llama.*"]),
        "twisted.plugins",
    ],
    package_data={"action_llama": ["py.typed", "gateway/openapi.json"]},
    install_requires=[
        "twisted[tls]>=25.5.0",
        "klein>=24.8.0",
        "treq>=24.9.1",
        "txaio>=23.1.1",
        "attrs>=23.1.0",
        "cronsim>=2.6",
        "PyYAML>=6.0",
        "click>=8.1",
        "cryptography>=42.0",
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "pytest-twisted>=1.14",
            "hypothesis>=6.100",
            "pytest-timeout>=2.2",
            "playwright>=1.45",
        ],
    },
    entry_points={
        "console_scripts": [
            "al = action_llama.cli.main:main",
        ],
    },
    classifiers=[
        "Framework :: Twisted",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
    ],
)
