// filled in by the verify page work
