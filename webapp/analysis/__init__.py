"""The Analysis page's tabs (webapp/pages/analysis.py): how information flows (flow), which heads
matter (heads), gradients beside attention (attribution), and what they share (common)."""
