"""OpenGL 3.3 core helpers for the client's 3D view: one lit shader, meshes, matrices, geometry.

Everything 3D is drawn as triangles with a position, a normal and a
colour per vertex (interleaved float32, 9 per vertex), through one shader
that lights by a sun direction and fades into fog far away. Geometry is
built with numpy in batches (all boxes of a frame at once), never one
entity per OpenGL call.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
from pyglet import gl
from pyglet.graphics.shader import Shader, ShaderProgram

_VERTEX = """#version 330 core
in vec3 position;
in vec3 normal;
in vec3 colour;
uniform mat4 mvp;
out vec3 v_colour;
out vec3 v_normal;
out float v_depth;
void main() {
    gl_Position = mvp * vec4(position, 1.0);
    v_colour = colour;
    v_normal = normal;
    v_depth = gl_Position.w;
}
"""

_FRAGMENT = """#version 330 core
in vec3 v_colour;
in vec3 v_normal;
in float v_depth;
uniform vec3 sun;
uniform vec3 fog;
out vec4 frag;
void main() {
    float lit = max(dot(normalize(v_normal), sun), 0.0);
    vec3 c = v_colour * (0.5 + 0.55 * lit);
    float f = clamp((v_depth - 90.0) / 110.0, 0.0, 1.0);
    frag = vec4(mix(c, fog, f), 1.0);
}
"""

FLOATS = 9


def lit_program() -> ShaderProgram:
    return ShaderProgram(Shader(_VERTEX, "vertex"), Shader(_FRAGMENT, "fragment"))


class Mesh:
    """A vertex array of triangles: ``upload`` a (n, 9) float32 array, ``draw`` it."""

    def __init__(self, program: ShaderProgram):
        self.vao = gl.GLuint()
        self.vbo = gl.GLuint()
        gl.glGenVertexArrays(1, ctypes.byref(self.vao))
        gl.glGenBuffers(1, ctypes.byref(self.vbo))
        gl.glBindVertexArray(self.vao)
        gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vbo)
        stride = FLOATS * 4
        for name, offset in (("position", 0), ("normal", 12), ("colour", 24)):
            loc = gl.glGetAttribLocation(program.id, name.encode())
            if loc >= 0:
                gl.glEnableVertexAttribArray(loc)
                gl.glVertexAttribPointer(loc, 3, gl.GL_FLOAT, gl.GL_FALSE, stride, ctypes.c_void_p(offset))
        gl.glBindVertexArray(0)
        self.count = 0
        self._capacity = 0

    def upload(self, data: np.ndarray) -> None:
        data = np.ascontiguousarray(data, dtype=np.float32)
        gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vbo)
        if data.nbytes > self._capacity:
            self._capacity = max(data.nbytes, self._capacity * 2)
            gl.glBufferData(gl.GL_ARRAY_BUFFER, self._capacity, None, gl.GL_DYNAMIC_DRAW)
        if data.nbytes:
            gl.glBufferSubData(gl.GL_ARRAY_BUFFER, 0, data.nbytes, data.ctypes.data)
        self.count = len(data)

    def draw(self) -> None:
        if self.count:
            gl.glBindVertexArray(self.vao)
            gl.glDrawArrays(gl.GL_TRIANGLES, 0, self.count)
            gl.glBindVertexArray(0)

    def delete(self) -> None:
        gl.glDeleteBuffers(1, ctypes.byref(self.vbo))
        gl.glDeleteVertexArrays(1, ctypes.byref(self.vao))


# -- matrices (row-major numpy; transpose when handing to GL) ---------------------------------


def perspective(fov_y: float, aspect: float, near: float, far: float) -> np.ndarray:
    f = 1.0 / math.tan(math.radians(fov_y) / 2)
    m = np.zeros((4, 4))
    m[0, 0] = f / aspect
    m[1, 1] = f
    m[2, 2] = (far + near) / (near - far)
    m[2, 3] = 2 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    f = target - eye
    f = f / np.linalg.norm(f)
    s = np.cross(f, up)
    s = s / np.linalg.norm(s)
    u = np.cross(s, f)
    m = np.identity(4)
    m[0, :3], m[1, :3], m[2, :3] = s, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def gl_matrix(m: np.ndarray) -> tuple[float, ...]:
    """A row-major numpy matrix as the column-major 16 floats a GL uniform takes."""
    return tuple(float(v) for v in m.T.reshape(16))


def project(mvp: np.ndarray, points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Screen (x, y) of world points (n, 3), and whether each is in front of the camera and on screen."""
    n = len(points)
    h = np.ones((n, 4))
    h[:, :3] = points
    clip = h @ mvp.T
    w = clip[:, 3]
    front = w > 0.1
    w = np.where(front, w, 1.0)
    ndc = clip[:, :2] / w[:, None]
    xy = np.empty((n, 2))
    xy[:, 0] = (ndc[:, 0] + 1) * 0.5 * width
    xy[:, 1] = (ndc[:, 1] + 1) * 0.5 * height
    visible = front & (np.abs(ndc[:, 0]) <= 1.05) & (np.abs(ndc[:, 1]) <= 1.05)
    return xy, visible


# -- geometry -----------------------------------------------------------------------------------

# a unit box from (-1, -1, 0) to (1, 1, 1): 6 faces x 2 triangles, with the face normals
_FACES = [
    ((1, 0, 0), [(1, -1, 0), (1, 1, 0), (1, 1, 1), (1, -1, 1)]),
    ((-1, 0, 0), [(-1, 1, 0), (-1, -1, 0), (-1, -1, 1), (-1, 1, 1)]),
    ((0, 1, 0), [(1, 1, 0), (-1, 1, 0), (-1, 1, 1), (1, 1, 1)]),
    ((0, -1, 0), [(-1, -1, 0), (1, -1, 0), (1, -1, 1), (-1, -1, 1)]),
    ((0, 0, 1), [(-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)]),
    ((0, 0, -1), [(-1, 1, 0), (1, 1, 0), (1, -1, 0), (-1, -1, 0)]),
]
_BOX_POS = np.array([q[i] for _, q in _FACES for i in (0, 1, 2, 0, 2, 3)], np.float32)
_BOX_NORMAL = np.array([n for n, _ in _FACES for _ in range(6)], np.float32)
BOX_VERTICES = len(_BOX_POS)


def boxes(base: np.ndarray, half: np.ndarray, yaw_deg: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Boxes standing on ``base`` (n, 3) with half extents (n, 3: x, y and the full height), turned
    ``yaw_deg`` about z, coloured (n, 3): a (n * 36, 9) vertex array."""
    n = len(base)
    if n == 0:
        return np.zeros((0, FLOATS), np.float32)
    r = np.radians(yaw_deg.astype(np.float64))
    c, s = np.cos(r)[:, None], np.sin(r)[:, None]
    local = _BOX_POS[None, :, :] * half[:, None, :]
    out = np.empty((n, BOX_VERTICES, FLOATS), np.float32)
    out[:, :, 0] = base[:, None, 0] + local[:, :, 0] * c - local[:, :, 1] * s
    out[:, :, 1] = base[:, None, 1] + local[:, :, 0] * s + local[:, :, 1] * c
    out[:, :, 2] = base[:, None, 2] + local[:, :, 2]
    nx, ny = _BOX_NORMAL[None, :, 0], _BOX_NORMAL[None, :, 1]
    out[:, :, 3] = nx * c - ny * s
    out[:, :, 4] = nx * s + ny * c
    out[:, :, 5] = _BOX_NORMAL[None, :, 2]
    out[:, :, 6:9] = colour[:, None, :]
    return out.reshape(n * BOX_VERTICES, FLOATS)


def terrain_mesh(heights: np.ndarray, cell: float) -> np.ndarray:
    """The heightfield as triangles, shaded green to brown with height, with smooth normals."""
    ny, nx = heights.shape
    h = heights.astype(np.float32)
    gy, gx = np.gradient(h, cell)
    normals = np.dstack((-gx, -gy, np.ones_like(h)))
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    xs = np.arange(nx, dtype=np.float32) * cell
    ys = np.arange(ny, dtype=np.float32) * cell
    px, py = np.meshgrid(xs, ys)
    lo, hi = float(h.min()), float(h.max())
    t = (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)
    rng = np.random.default_rng(7)
    jitter = rng.uniform(-0.03, 0.03, h.shape).astype(np.float32)
    colour = np.dstack((0.28 + 0.25 * t + jitter, 0.52 - 0.1 * t + jitter, 0.22 + 0.05 * t))
    grid = np.dstack((px, py, h, normals, colour)).astype(np.float32)  # (ny, nx, 9)
    a = grid[:-1, :-1]
    b = grid[:-1, 1:]
    c = grid[1:, 1:]
    d = grid[1:, :-1]
    tris = np.stack((a, b, c, a, c, d), axis=2)  # (ny-1, nx-1, 6, 9)
    return tris.reshape(-1, FLOATS)
