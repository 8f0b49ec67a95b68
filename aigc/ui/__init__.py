"""The Gradio tabs, one file each: components, and events wired to the plain functions of ``aigc.studio``.

What the tabs share (error display, share links, the model pickers, event options) is in ``aigc.ui.common``.
"""
