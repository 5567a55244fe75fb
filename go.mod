module github.com/longrun/longrun

go 1.26
