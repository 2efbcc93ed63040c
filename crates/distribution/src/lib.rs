//! OCI Distribution client: pull, push and login against registries.
