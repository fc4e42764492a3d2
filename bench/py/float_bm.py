# float (after pyperformance bm_float): object creation and float maths.
import math
import sys


class Point:
    __slots__ = ("x", "y", "z")

    def __init__(self, i):
        self.x = x = math.sin(i)
        self.y = math.cos(i) * 3
        self.z = (x * x) / 2

    def normalize(self):
        norm = math.sqrt(self.x * self.x + self.y * self.y + self.z * self.z)
        self.x /= norm
        self.y /= norm
        self.z /= norm

    def maximize(self, other):
        self.x = max(self.x, other.x)
        self.y = max(self.y, other.y)
        self.z = max(self.z, other.z)
        return self


n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
points = [Point(i) for i in range(n)]
for p in points:
    p.normalize()
best = points[0]
for p in points[1:]:
    best = best.maximize(p)
print("%.6f %.6f %.6f" % (best.x, best.y, best.z))
