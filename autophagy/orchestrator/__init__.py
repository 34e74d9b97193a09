"""Running a sweep on Ray Tune: one trial per grid cell, one actor per chain, rows to Parquet."""
