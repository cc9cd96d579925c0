# Toree's R room, the R side. The kernel (Python) starts this script in an R process of its own and
# talks to it over one loopback socket; so R's q() or a crash ends this process, never the kernel.
#
# Frames, both ways: [0x00 from R only] uint32 header length, header JSON, uint32 payload length, payload.
# R's stdout is sunk into the same socket unframed, so printed text and displays arrive in the order R
# made them, while a cell runs (R strings cannot hold a NUL byte, so 0x00 starts a frame unambiguously).
# Spark calls (sql(), collect(), ...) are frames to the kernel answered by a frame: the kernel runs
# them with PySpark on the kernel's one SparkSession, inside the cell's job group.

# Toree's own functions live in an environment on the search path, out of the user's workspace (so
# rm(list = ls(all.names = TRUE)) cannot take them), and are found from the SparkR API's functions.
assign(".toree", new.env(), envir = attach(NULL, name = "tools:toree"))

local({
  args <- commandArgs(trailingOnly = TRUE)
  T <- .toree
  T$con <- socketConnection("127.0.0.1", as.integer(args[[1]]), blocking = TRUE, open = "r+b",
                            timeout = 3600)
  T$released <- character(0)  # DataFrame handles R no longer holds, told to the kernel with the next call
  T$plot <- NULL  # the current cell's last recorded plot, not yet sent

  T$int4 <- function(n) writeBin(as.integer(n), raw(), size = 4L, endian = "little")
  T$json <- function(x) {
    charToRaw(enc2utf8(as.character(
      jsonlite::toJSON(x, auto_unbox = TRUE, null = "null", na = "null", digits = NA, force = TRUE))))
  }
  T$send <- function(header, payload = raw(0)) {
    h <- T$json(header)
    writeBin(c(as.raw(0L), T$int4(length(h)), h, T$int4(length(payload)), payload), T$con)
    T$sent <- TRUE
    flush(T$con)
  }
  # Reading resumes where an interrupt left it: R's interrupts cut blocking socket reads short (even
  # inside suspendInterrupts()), so what a read got is kept in T until its frame is whole.
  T$chunks <- list()
  T$have <- 0L
  T$rx <- list()
  T$read_exact <- function(n) {
    while (T$have < n) {
      part <- readBin(T$con, "raw", n - T$have)
      if (length(part) == 0L) {
        # Nothing read: a signal, the socket's idle timeout, or its end. Only at the end is the socket
        # readable and still gives nothing: the kernel is gone.
        if (isTRUE(socketSelect(list(T$con), timeout = 0)) && length(part <- readBin(T$con, "raw", n - T$have)) == 0L) {
          quit(save = "no", status = 0L)
        }
        if (length(part) == 0L) next
      }
      T$chunks[[length(T$chunks) + 1L]] <- part
      T$have <- T$have + length(part)
    }
    out <- if (length(T$chunks) == 1L) T$chunks[[1L]] else do.call(c, T$chunks)
    T$chunks <- list()
    T$have <- 0L
    out
  }
  T$read_int <- function() readBin(T$read_exact(4L), "integer", 1L, size = 4L, endian = "little")
  T$receive <- function() {  # (`[[`, not `$`: `$` on a list matches a prefix of a longer name)
    if (is.null(T$rx[["hlen"]])) T$rx[["hlen"]] <- T$read_int()
    if (is.null(T$rx[["header"]])) {
      T$rx[["header"]] <- jsonlite::fromJSON(rawToChar(T$read_exact(T$rx[["hlen"]])), simplifyVector = FALSE)
    }
    if (is.null(T$rx[["plen"]])) T$rx[["plen"]] <- T$read_int()
    payload <- if (T$rx[["plen"]] > 0L) T$read_exact(T$rx[["plen"]]) else raw(0)
    frame <- list(header = T$rx[["header"]], payload = payload)
    T$rx <- list()
    frame
  }

  # A call to the kernel. An interrupt while it waits is held until the answer is in (the kernel cancels
  # the call's Spark jobs on interrupt, so the answer comes soon), then the call stops the cell.
  T$call <- function(name, args = list(), payload = raw(0)) {
    released <- T$released
    T$released <- character(0)
    T$send(list(type = "call", name = name, args = args, released = I(released)), payload)
    interrupted <- FALSE
    repeat {
      reply <- tryCatch(T$receive(), interrupt = function(i) NULL)
      if (!is.null(reply)) break
      interrupted <- TRUE
    }
    if (interrupted) stop("interrupted", call. = FALSE)
    if (!is.null(reply$header$error)) {
      api <- T$user_calls(sys.calls())  # the error is the SparkR function's the user called
      stop(structure(class = c("sparkError", "error", "condition"),
                     list(message = reply$header$error, call = if (length(api)) api[[length(api)]])))
    }
    reply
  }

  T$stream <- function(name, text) T$send(list(type = "stream", name = name, text = text))

  # Output, as IRkernel gives it ---------------------------------------------------------------------
  T$new_device <- function() {  # a blank device for the cell (kept when nothing was drawn on it)
    if (!is.null(T$device) && T$device %in% dev.list()) {
      if (grDevices::dev.cur() == T$device && is.null(T$recorded())) return(invisible())
      dev.off(T$device)
    }
    grDevices::pdf(NULL)
    grDevices::dev.control(displaylist = "enable")
    T$device <- grDevices::dev.cur()
    T$plot <- NULL
  }
  T$recorded <- function() {
    if (is.null(T$device) || grDevices::dev.cur() != T$device) return(NULL)
    p <- tryCatch(grDevices::recordPlot(), error = function(e) NULL)
    if (is.null(p) || length(p[[1L]]) == 0L) NULL else p
  }
  T$builds_upon <- function(old, new) {
    a <- old[[1L]]
    b <- new[[1L]]
    length(b) >= length(a) && all(vapply(seq_along(a), function(i) identical(a[[i]], b[[i]]), TRUE))
  }
  T$same_plot <- function(old, new) length(old[[1L]]) == length(new[[1L]]) && T$builds_upon(old, new)
  T$watch_plot <- function() {
    p <- T$recorded()
    if (is.null(p) || (!is.null(T$plot) && T$same_plot(T$plot, p))) return(invisible())
    if (!is.null(T$plot) && !T$builds_upon(T$plot, p)) T$send_plot(T$plot)
    T$plot <- p
  }
  T$send_plot <- function(p) {
    width <- getOption("repr.plot.width", 7)
    height <- getOption("repr.plot.height", 7)
    ppi <- getOption("repr.plot.res", 120) / getOption("jupyter.plot_scale", 2)
    data <- list()
    metadata <- list()
    for (mime in getOption("jupyter.plot_mimetypes", c("text/plain", "image/png"))) {
      value <- tryCatch(repr::mime2repr[[mime]](p, width, height), error = function(e) {
        T$stream("stderr", sprintf("Could not render the plot as %s: %s\n", mime, conditionMessage(e)))
        NULL
      })
      if (is.null(value)) next
      data[[mime]] <- T$mime_value(value)
      if (mime != "text/plain") {
        metadata[[mime]] <- list(width = width * ppi, height = height * ppi)
        if (mime == "image/svg+xml") metadata[[mime]]$isolated <- TRUE
      }
    }
    if (length(data)) T$send(list(type = "display", data = data, metadata = T$object(metadata)))
  }
  T$object <- function(x) if (length(x)) x else structure(list(), names = character(0))
  T$mime_value <- function(value) {
    if (is.raw(value)) jsonlite::base64_enc(value) else if (is.character(value)) paste(value, collapse = "\n") else value
  }
  T$bundle <- function(value) {
    text <- IRdisplay::prepare_mimebundle(value, "text/plain")$data[["text/plain"]]
    if (is.null(text) || !nzchar(paste(text, collapse = ""))) return(NULL)  # a ggplot: printing it drew it
    data <- list()
    metadata <- list()
    if (isTRUE(getOption("jupyter.rich_display", TRUE))) {
      rich <- IRdisplay::prepare_mimebundle(value, setdiff(getOption("jupyter.display_mimetypes"), "text/plain"))
      for (mime in names(rich$data)) data[[mime]] <- T$mime_value(rich$data[[mime]])
      if (length(rich$metadata)) metadata <- rich$metadata
    }
    data[["text/plain"]] <- T$mime_value(text)
    list(data = data, metadata = T$object(metadata))
  }
  T$show <- function(value, last) {
    if (inherits(value, "SparkDataFrame")) {
      T$call("show_value", list(id = value$ref$id, last = last))
      return(invisible())
    }
    b <- T$bundle(value)
    T$watch_plot()  # printing the value may have drawn
    if (is.null(b)) return(invisible())
    # help (?cat) and vignette lists go to the pager, as in IRkernel
    pager <- length(intersect(class(value), getOption("jupyter.pager_classes"))) > 0L
    T$send(list(type = if (pager) "page" else if (last) "result" else "display", data = b$data, metadata = b$metadata))
  }
  T$display <- function(data, metadata = NULL) {
    data <- lapply(data, T$mime_value)
    T$send(list(type = "display", data = data, metadata = T$object(as.list(metadata))))
  }

  # Warnings in R's own words, after the top-level call that raised them (options(warn) is honoured).
  T$warning_text <- function(w) {
    call <- conditionCall(w)
    msg <- conditionMessage(w)
    if (is.null(call) || T$is_top(call)) msg else sprintf("In %s : %s", deparse(call, nlines = 1L), msg)
  }
  T$flush_warnings <- function(warnings) {
    if (!length(warnings)) return(invisible())
    text <- if (length(warnings) == 1L) {
      sprintf("Warning message:\n%s\n", T$warning_text(warnings[[1L]]))
    } else {
      lines <- vapply(seq_along(warnings), function(i) sprintf("%d: %s", i, T$warning_text(warnings[[i]])), "")
      sprintf("Warning messages:\n%s\n", paste(lines, collapse = "\n"))
    }
    T$stream("stderr", text)
  }
  T$top_call <- quote(eval(expr, .GlobalEnv))
  # The calls of the cell's code: below the cell's top-level eval, without the kernel's own functions
  # (.toree$..., SparkR's .helpers).
  T$user_calls <- function(calls) {
    top <- Position(T$is_top, calls, right = TRUE, nomatch = 0L)  # eval's call is there twice
    calls <- if (top > 0L) calls[-seq_len(top)] else list()
    Filter(function(c) is.name(c[[1L]]) && !startsWith(as.character(c[[1L]]), "."), calls)
  }
  T$is_top <- function(call) identical(call, T$top_call)

  T$error_frame <- function(e, calls) {
    call <- conditionCall(e)
    msg <- conditionMessage(e)
    head <- if (is.null(call) || T$is_top(call)) sprintf("Error: %s", msg) else
      sprintf("Error in %s : %s", deparse(call, nlines = 1L), msg)
    calls <- T$user_calls(calls[-length(calls)])  # (the last: the handler that took the calls)
    raising <- Position(function(c) is.name(c[[1L]]) && as.character(c[[1L]]) %in% c(".handleSimpleError", "stop"),
                        calls, nomatch = 0L)
    if (raising > 0L) calls <- calls[seq_len(raising - 1L)]
    trace <- if (length(calls)) {
      c("Traceback:", vapply(seq_along(calls), function(i) sprintf("%d. %s", i, deparse(calls[[i]], nlines = 1L)), ""))
    } else character(0)
    list(type = "error", ename = class(e)[[1L]], evalue = msg, traceback = I(c(head, trace)))
  }

  # One top-level expression: its value shown (the last as the cell's result), its warnings after it.
  T$run_one <- function(expr, last) {
    warnings <- list()
    calls <- NULL
    outcome <- tryCatch(
      withCallingHandlers(
        {
          res <- withVisible(eval(expr, .GlobalEnv))
          if (res$visible) T$show(res$value, last)
          T$watch_plot()
          NULL
        },
        warning = function(w) {
          level <- getOption("warn", 0)
          if (level >= 2) return()  # R turns it into an error
          if (level == 1) T$stream("stderr", sprintf("Warning: %s\n", T$warning_text(w)))
          else if (level == 0) warnings[[length(warnings) + 1L]] <<- w
          invokeRestart("muffleWarning")
        },
        message = function(m) {
          T$stream("stderr", conditionMessage(m))
          invokeRestart("muffleMessage")
        },
        error = function(e) calls <<- sys.calls()
      ),
      error = function(e) T$error_frame(e, calls),
      interrupt = function(i) list(type = "error", ename = "KeyboardInterrupt", evalue = "interrupted",
                                   traceback = I("KeyboardInterrupt: the cell was interrupted"))
    )
    T$flush_warnings(warnings)
    outcome
  }

  T$execute <- function(header) {
    T$new_device()
    exprs <- tryCatch(parse(text = header$code, keep.source = FALSE), error = function(e) e)
    if (inherits(exprs, "error")) {
      msg <- sub("^<text>:", "", conditionMessage(exprs))
      return(list(type = "error", ename = "ParseError", evalue = msg, traceback = I(paste("Error: parse error", msg))))
    }
    outcome <- NULL
    for (i in seq_along(exprs)) {
      outcome <- T$run_one(exprs[[i]], i == length(exprs))
      if (!is.null(outcome)) break
    }
    if (!is.null(T$plot)) T$send_plot(T$plot)
    T$plot <- NULL
    if (is.null(outcome)) list(type = "done") else outcome
  }

  # Introspection, with R's own completer, help system and parser -----------------------------------
  T$complete <- function(header) {
    code <- header$code
    cursor <- as.integer(header$cursor)
    before <- substr(code, 1L, cursor)
    line_start <- max(0L, unlist(gregexpr("\n", before, fixed = TRUE)))
    line <- substring(before, line_start + 1L)  # R's completer reads the line up to the cursor
    utils <- asNamespace("utils")
    utils$.assignLinebuffer(line)
    utils$.assignEnd(nchar(line))
    token <- utils$.guessTokenFromLine(update = FALSE)
    utils$.guessTokenFromLine()
    utils$.completeToken()
    matches <- utils$.retrieveCompletions()
    start <- line_start + token$start
    list(type = "complete", matches = I(as.character(matches)), start = start, end = start + nchar(token$token))
  }
  T$token_at <- function(code, cursor) {
    word <- "[A-Za-z0-9._]"
    s <- cursor
    while (s > 0L && grepl(word, substr(code, s, s))) s <- s - 1L
    e <- cursor
    while (e < nchar(code) && grepl(word, substr(code, e + 1L, e + 1L))) e <- e + 1L
    substr(code, s + 1L, e)
  }
  T$inspect <- function(header) {
    token <- T$token_at(header$code, as.integer(header$cursor))
    if (!nzchar(token)) return(list(type = "inspect", found = FALSE))
    data <- list()
    topic <- tryCatch(utils::help(token, help_type = "text"), error = function(e) character(0))
    if (length(topic)) {
      file <- tempfile()
      rd <- utils:::.getHelpFile(topic[[1L]])
      tools::Rd2txt(rd, out = file, options = list(underline_titles = FALSE))
      data[["text/plain"]] <- paste(readLines(file, warn = FALSE), collapse = "\n")
      html <- tempfile()
      tools::Rd2HTML(rd, out = html)
      data[["text/html"]] <- paste(readLines(html, warn = FALSE), collapse = "\n")
      unlink(c(file, html))
    } else if (exists(token, envir = .GlobalEnv)) {
      value <- get(token, envir = .GlobalEnv)
      data[["text/plain"]] <- paste(c(sprintf("%s: %s", token, paste(class(value), collapse = ", ")),
                                      utils::capture.output(utils::str(value))), collapse = "\n")
    }
    list(type = "inspect", found = length(data) > 0L, data = T$object(data))
  }
  T$is_complete <- function(header) {
    status <- tryCatch({
      parse(text = header$code, keep.source = FALSE)
      "complete"
    }, error = function(e) {
      if (grepl("unexpected end of input|INCOMPLETE_STRING|unexpected end of line", conditionMessage(e))) "incomplete" else "invalid"
    })
    list(type = "is_complete", status = status)
  }
  T$evaluate <- function(header) {
    value <- tryCatch(eval(parse(text = header$code, keep.source = FALSE), .GlobalEnv), error = function(e) e)
    if (inherits(value, "error")) return(list(type = "error", ename = "Error", evalue = conditionMessage(value)))
    if (inherits(value, "SparkDataFrame")) return(list(type = "value", dataframe = value$ref$id))
    b <- T$bundle(value)
    scalar <- if (is.atomic(value) && length(value) == 1L && !is.na(value)) value else NULL
    list(type = "value", data = if (is.null(b)) T$object(list()) else b$data, scalar = scalar)
  }

  T$serve <- function() {
    handlers <- list(execute = T$execute, complete = T$complete, inspect = T$inspect,
                     is_complete = T$is_complete, evaluate = T$evaluate)
    repeat {
      request <- tryCatch(T$receive(), interrupt = function(i) NULL)  # an interrupt between cells: nothing to stop
      if (is.null(request)) next
      handler <- handlers[[request$header$type]]
      reply <- tryCatch(
        if (is.null(handler)) list(type = "error", ename = "ProtocolError", evalue = "unknown request") else handler(request$header),
        interrupt = function(i) list(type = "error", ename = "KeyboardInterrupt", evalue = "interrupted"),
        error = function(e) list(type = "error", ename = "InternalError", evalue = conditionMessage(e))
      )
      # The answer goes out whatever interrupt arrives now: an uncaught interrupt would end R, a lost
      # answer would leave the kernel waiting.
      T$sent <- FALSE
      while (!isTRUE(T$sent)) tryCatch(T$send(reply), interrupt = function(i) NULL)
    }
  }
  writeBin(charToRaw(args[[2]]), T$con)  # the token: the kernel accepts only its own R process
  flush(T$con)
})

# The session as a Jupyter kernel shows it (IRkernel's options, so IRkernel-minded code works alike).
options(
  jupyter.in_kernel = TRUE,
  jupyter.rich_display = TRUE,
  jupyter.plot_mimetypes = c("text/plain", "image/png"),
  jupyter.plot_scale = 2,
  jupyter.pager_classes = c("packageIQR", "help_files_with_topic"),
  jupyter.base_display_func = function(data, metadata = NULL) .toree$display(data, metadata),
  jupyter.clear_output_func = function(wait = TRUE) .toree$send(list(type = "clear_output", wait = isTRUE(wait))),
  device = function(...) grDevices::pdf(NULL),
  warn = 0
)
suppressPackageStartupMessages({
  library(repr)
  library(IRdisplay)
})
if (is.null(getOption("jupyter.display_mimetypes"))) {
  options(jupyter.display_mimetypes = c("text/plain", "text/html", "text/markdown", "text/latex"))
}
# readline() asks the client (an input_request), as in IRkernel
local({
  ask <- function(prompt = "") .toree$call("input", list(prompt = prompt))$header$value
  for (env in list(baseenv(), .BaseNamespaceEnv)) {
    unlockBinding("readline", env)
    assign("readline", ask, envir = env)
    lockBinding("readline", env)
  }
})
sink(.toree$con)  # R's stdout: print(), cat(), str() reach the cell as they are written
# SparkR's API on the kernel's session; library(SparkR) finds it attached.
sys.source(commandArgs(trailingOnly = TRUE)[[3L]], envir = attach(NULL, name = "package:SparkR"), keep.source = FALSE)
.toree$send(list(type = "ready", version = paste(R.version$major, R.version$minor, sep = ".")))
.toree$serve()
