// BatonPostgres: being written
