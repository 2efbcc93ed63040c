//! Dockerfile builder: parser, context, cache, multi-stage execution.
