"""Result tables (long-form energy, per-layer summary, totals) and their files."""
