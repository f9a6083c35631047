# ctl/local.mk
