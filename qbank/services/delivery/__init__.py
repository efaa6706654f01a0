"""Taking a quiz: create, serve (adaptive or planned), grade; the cursor, pool and daily caps."""
