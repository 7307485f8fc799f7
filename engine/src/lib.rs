//! What the CLI (and later a daemon) calls: images, containers, build,
//! pull and push. Ties builder, cache, runner and registry-client together.
