"""microstructure"""
