"""Sources of a FITS image by sep (SExtractor's algorithms as a Python
library), for Ferros's pipeline tests: background in 64-pixel meshes
filtered 3x3, detection at 1.5 times the global noise over 5 pixels with the 3x3 pyramid
filter, fluxes in a circle of radius 5; positions in the FITS convention
(the first pixel's centre is 1,1). Prints JSON: [{x, y, flux, flux_err, flags}]."""
import json
import sys

import numpy as np
import sep
from astropy.io import fits

data = fits.getdata(sys.argv[1]).astype(np.float64)
bkg = sep.Background(data, bw=64, bh=64, fw=3, fh=3)
sub = data - bkg.back()
kernel = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
objects = sep.extract(sub, 1.5, err=bkg.globalrms, minarea=5, filter_kernel=kernel,
                      deblend_nthresh=32, deblend_cont=0.005, clean=False)
flux, flux_err, _ = sep.sum_circle(sub, objects["x"], objects["y"], 5.0, err=bkg.rms())
print(json.dumps([
    {"x": float(o["x"]) + 1, "y": float(o["y"]) + 1, "flux": float(f), "flux_err": float(e),
     "flags": int(o["flag"])}
    for o, f, e in zip(objects, flux, flux_err)
]))
