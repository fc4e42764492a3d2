# numpy inside an enclave (the example from SCONE's Python page).
import numpy as np

a = np.arange(15).reshape(3, 5)
print(a)
print("shape:", a.shape, "ndim:", a.ndim, "dtype:", a.dtype.name)
b = np.array([6, 7, 8])
print(b, type(b).__name__)
print(np.linspace(0, 2, 9))
print(np.sin(np.linspace(0, np.pi, 5)).round(6))
