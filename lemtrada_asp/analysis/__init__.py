"""The analyst's workbench over the engine: the example suite (suite), coverage,
corpus diffs (changes), the abstract input space (space) and the one program over
it (program), whole-space impact (impact), soundness and properties of a KB, and
the case generator (generate)."""
