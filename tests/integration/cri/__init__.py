"""A minimal Kubernetes CRI client for the tests (there is no crictl on Debian 12)."""
