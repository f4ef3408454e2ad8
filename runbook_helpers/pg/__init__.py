"""PostgreSQL: the restore target and its production guard, the client tools, restricted psql and
the restore marker.
"""
