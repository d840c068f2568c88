// The Fleeti mapping module; see docs/mapping.md.
enum MappingModule {}
