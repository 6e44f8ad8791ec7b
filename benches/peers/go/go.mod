module weave-peers

go 1.19
