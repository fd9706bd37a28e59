module github.com/jmssync/jmssync/services/sim

go 1.26.8

require github.com/jmssync/jmssync/libs v0.0.0

require github.com/google/uuid v1.6.0 // indirect

replace github.com/jmssync/jmssync/libs => ../../libs

replace github.com/jmssync/jmssync/schemas => ../../schemas
