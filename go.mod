module github.com/cabridge/cabridge

go 1.26
