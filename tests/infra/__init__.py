"""Infrastructure tests. jsii starts Node when `aws_cdk` is first imported, before any fixture:
silence Node 20's deprecation and end-of-life banners here, as the Makefile does."""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
