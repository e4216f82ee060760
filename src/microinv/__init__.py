"""microinv: inverse design of porous two-phase microstructures.

Stages (each a ``microinv <stage>`` command): sample -> generate -> solve -> aggregate ->
train -> design -> validate -> report. See DESIGN in the repository's docs.
"""

__version__ = "0.1.0"
