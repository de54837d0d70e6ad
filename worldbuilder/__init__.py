"""The designer GUI (pyglet) and the world-file format."""
