"""The pages healthbot serves besides /wechat: the guard's scan page, live codes, face checks and /verify."""
