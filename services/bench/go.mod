module github.com/jmssync/jmssync/services/bench

go 1.26.8

require (
	github.com/jmssync/jmssync/libs v0.0.0
	github.com/jmssync/jmssync/schemas v0.0.0
)

replace (
	github.com/jmssync/jmssync/libs => ../../libs
	github.com/jmssync/jmssync/schemas => ../../schemas
)
