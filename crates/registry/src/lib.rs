//! OCI Distribution registry server (vessel registry).
