# SparkR's API, by SparkR's names, on the kernel's one SparkSession (SparkR itself is not in the pyspark
# wheel and is deprecated in Spark 4). A SparkDataFrame is a handle to a DataFrame the kernel holds;
# data crosses as binary columns (see toree_interpreters/r/columns.py for the layout).

.T <- get(".toree", envir = as.environment("tools:toree"))

.new_df <- function(reply) {
  ref <- new.env(parent = emptyenv())
  ref$id <- reply$header$id
  reg.finalizer(ref, function(r) .T$released <- c(.T$released, r$id))
  structure(list(ref = ref, schema = reply$header$schema, columns = unlist(reply$header$columns)),
            class = "SparkDataFrame")
}
.df_call <- function(.name, .x, ...) {
  if (!inherits(.x, "SparkDataFrame")) {
    stop(sprintf("%s() needs a SparkDataFrame, not %s", .name, class(.x)[[1L]]), call. = FALSE)
  }
  .T$call(.name, list(id = .x$ref$id, ...))
}

# Binary columns -> data.frame
.read_columns <- function(reply) {
  spec <- reply$header$columns
  n <- as.integer(reply$header$rows)
  con <- rawConnection(reply$payload, "rb")
  on.exit(close(con))
  out <- lapply(spec, function(col) {
    type <- col$type
    v <- switch(type,
      integer = , logical = readBin(con, "integer", n, size = 4L, endian = "little"),
      double = , Date = , POSIXct = readBin(con, "double", n, endian = "little"),
      character = readBin(con, "character", n))
    if (type == "character" && isTRUE(col$na)) v[readBin(con, "integer", n, size = 4L, endian = "little") == 1L] <- NA
    switch(type, logical = as.logical(v), Date = structure(v, class = "Date"),
           POSIXct = structure(v, class = c("POSIXct", "POSIXt")), v)
  })
  names(out) <- vapply(spec, function(col) col$name, "")
  as.data.frame(out, stringsAsFactors = FALSE, optional = TRUE)
}

# data.frame -> binary columns
.write_columns <- function(data) {
  con <- rawConnection(raw(0), "wb")
  on.exit(close(con))
  spec <- lapply(names(data), function(name) {
    v <- data[[name]]
    if (is.factor(v)) v <- as.character(v)
    type <- if (inherits(v, "Date")) "Date" else if (inherits(v, "POSIXct")) "POSIXct" else if (is.logical(v)) "logical" else
      if (is.integer(v)) "integer" else if (is.double(v)) "double" else if (is.character(v)) "character" else
        stop(sprintf("createDataFrame: column '%s' is a %s; use integer, double, character, logical, factor, Date or POSIXct",
                     name, class(v)[[1L]]), call. = FALSE)
    na <- FALSE
    switch(type,
      integer = , logical = writeBin(as.integer(v), con, size = 4L, endian = "little"),
      double = , Date = , POSIXct = writeBin(as.double(unclass(v)), con, endian = "little"),
      character = {
        na <- anyNA(v)
        writeBin(enc2utf8(ifelse(is.na(v), "", v)), con)
        if (na) writeBin(as.integer(is.na(v)), con, size = 4L, endian = "little")
      })
    list(name = name, type = type, na = na)
  })
  list(columns = spec, rows = nrow(data), payload = rawConnectionValue(con))
}

sparkR.session <- function(...) {
  if (length(list(...))) message("sparkR.session(): the kernel's session is shared by every language; its settings are the kernel's (--spark-opts)")
  reply <- .T$call("session")
  invisible(structure(list(version = reply$header$version), class = "SparkSession"))
}
sparkR.version <- function() .T$call("session")$header$version
sparkR.session.stop <- function() {
  message("sparkR.session.stop(): the session is the kernel's and stays up (restart the kernel to stop it)")
  invisible()
}
sparkR.stop <- sparkR.session.stop
print.SparkSession <- function(x, ...) cat("Java ref type org.apache.spark.sql.SparkSession (Spark ", x$version, ")\n", sep = "")

sql <- function(sqlQuery) .new_df(.T$call("sql", list(query = sqlQuery)))
tableToDF <- function(tableName) .new_df(.T$call("table", list(name = tableName)))
createDataFrame <- function(data, schema = NULL, ...) {
  if (!is.data.frame(data)) data <- as.data.frame(data, stringsAsFactors = FALSE)
  if (!is.null(schema)) names(data) <- schema
  cols <- .write_columns(data)
  .new_df(.T$call("create", list(columns = cols$columns, rows = cols$rows), cols$payload))
}
as.DataFrame <- createDataFrame
createOrReplaceTempView <- function(x, viewName) invisible(.df_call("view", x, name = viewName))

collect <- function(x, ...) UseMethod("collect")
collect.SparkDataFrame <- function(x, ...) .read_columns(.df_call("collect", x))
as.data.frame.SparkDataFrame <- function(x, ...) collect(x)
head.SparkDataFrame <- function(x, num = 6L, ...) .read_columns(.df_call("collect", x, limit = as.integer(num)))
take <- function(x, num) head.SparkDataFrame(x, num)
count <- function(x) UseMethod("count")
count.SparkDataFrame <- function(x) .df_call("count", x)$header$value
dim.SparkDataFrame <- function(x) c(count(x), length(x$columns))
columns <- function(x) x$columns
names.SparkDataFrame <- function(x) x$columns
colnames.SparkDataFrame <- names.SparkDataFrame
dtypes <- function(x) lapply(strsplit(strsplit(x$schema, ", ", fixed = TRUE)[[1L]], ":", fixed = TRUE), function(p) p[1:2])
printSchema <- function(x) cat(.df_call("schema", x)$header$text)
showDF <- function(x, numRows = 20L, truncate = TRUE, ...) cat(.df_call("show", x, rows = as.integer(numRows), truncate = isTRUE(truncate))$header$text)
limit <- function(x, num) .new_df(.df_call("limit", x, rows = as.integer(num)))
select <- function(x, col, ...) .new_df(.df_call("select", x, columns = I(as.character(c(col, ...)))))
filter <- function(x, condition) .new_df(.df_call("filter", x, condition = condition))
where <- filter
cache <- function(x) { .df_call("cache", x); invisible(x) }
print.SparkDataFrame <- function(x, ...) cat("SparkDataFrame[", x$schema, "]\n", sep = "")

# S3 methods must be registered: R looks them up in the registry, not along the search path.
local({
  env <- parent.env(environment())  # the attached SparkR environment
  for (name in ls(env, pattern = "\\.(SparkDataFrame|SparkSession)$")) {
    parts <- regmatches(name, regexec("^(.*)\\.(SparkDataFrame|SparkSession)$", name))[[1L]]
    registerS3method(parts[[2L]], parts[[3L]], get(name, envir = env), envir = env)
  }
})
