def _x(): pass
