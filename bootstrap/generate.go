package bootstrap

//go:generate go tool wire gen .
