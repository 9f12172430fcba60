"""The gateway's own logic: routing, the request pipeline, policies; no Flask request globals."""
