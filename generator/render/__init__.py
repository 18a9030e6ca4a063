"""``fluxforge render``, pure: templates, the context they print, the rendered files, the write plan."""
