"""Pure parsers of vendor tool output and sysfs files: text in, typed records out, no I/O."""
