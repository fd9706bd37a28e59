module github.com/jmssync/jmssync/schemas

go 1.26.8
