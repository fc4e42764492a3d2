# pycairo inside an enclave (after the example on SCONE's Python page):
# draws a gradient background and a Bezier curve, writes example.png.
import sys

import cairo

WIDTH, HEIGHT = 256, 256
out = sys.argv[1] if len(sys.argv) > 1 else "example.png"

surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, WIDTH, HEIGHT)
ctx = cairo.Context(surface)
ctx.scale(WIDTH, HEIGHT)  # normalise the canvas to 1.0 x 1.0

pattern = cairo.LinearGradient(0.0, 0.0, 0.0, 1.0)
pattern.add_color_stop_rgba(1, 0.7, 0, 0, 0.5)  # first stop, 50% opacity
pattern.add_color_stop_rgba(0, 0.9, 0.7, 0.2, 1)  # last stop, 100% opacity
ctx.rectangle(0, 0, 1, 1)
ctx.set_source(pattern)
ctx.fill()

ctx.translate(0.1, 0.1)
ctx.move_to(0, 0)
ctx.arc(0.2, 0.1, 0.1, -3.14159 / 2, 0)
ctx.line_to(0.5, 0.1)
ctx.curve_to(0.5, 0.2, 0.5, 0.4, 0.2, 0.8)
ctx.close_path()
ctx.set_source_rgb(0.3, 0.2, 0.5)
ctx.set_line_width(0.02)
ctx.stroke()

surface.write_to_png(out)
print("wrote", out)
