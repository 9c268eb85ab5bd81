"""Compile time: load and check the spec, emit the schema, tables and sites. Pure; never imports runtime."""
