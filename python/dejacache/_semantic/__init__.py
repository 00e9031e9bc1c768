"""_semantic"""
