-- feedsvc static tier: serve a published feed file with the app's exact headers.
--
-- feedsvc/publish/export.py writes beside each feed file (feed.atom, feed.atom.gz) a
-- "<file>.headers" file: the Content-Type, Content-Encoding, ETag, Last-Modified,
-- Vary and Cache-Control lines the app sends with those bytes. access() runs in
-- nginx's access phase: it sends those headers and answers conditional requests
-- by the app's (werkzeug's) rules: If-None-Match decides when present, compared
-- weakly (lists, W/, "*"); else If-Modified-Since, not modified when Last-Modified
-- <= the given date. A 304 carries ETag, Vary and Cache-Control only, like the
-- app's. nginx then sends the file itself. What it cannot answer exactly (a query
-- string such as ?limit=, a method other than GET/HEAD, If-Match and the like, a
-- feed not published yet) goes to the app.
--
-- Each nginx worker keeps the .headers files it has read, and drops them when the
-- publisher replaces <root>/.generation (after every publish), which it looks at
-- no more than once per MARKER_EVERY seconds: a change shows within milliseconds.

local M = {}

local MARKER_EVERY = 0.002
local roots = {} -- per published directory: { entries = {}, generation = ..., checked_at = ... }
local KEPT_BY_304 = { ETag = true, Vary = true, ["Cache-Control"] = true }

local function read(path)
    local file = io.open(path, "rb")
    if not file then
        return nil
    end
    local text = file:read("*a")
    file:close()
    return text
end

-- The directory's state, its entries dropped when its marker changed; without a marker
-- nothing is kept (nothing would say when to drop it).
local function current(root)
    local state = roots[root]
    if not state then
        state = { entries = {}, checked_at = -1 }
        roots[root] = state
    end
    local now = ngx.now()
    if now - state.checked_at >= MARKER_EVERY then
        state.checked_at = now
        local marker = read(root .. "/.generation")
        if marker ~= state.generation or marker == nil then
            state.entries, state.generation = {}, marker
        end
    end
    return state
end

local function parse(text)
    local entry = { all = {}, not_modified = {} }
    for name, value in text:gmatch("([%w-]+): ([^\n]*)\n") do
        if name ~= "Last-Modified" then -- nginx sends it from the file's mtime, the same date
            entry.all[#entry.all + 1] = { name, value }
        end
        if KEPT_BY_304[name] then
            entry.not_modified[#entry.not_modified + 1] = { name, value }
        end
        if name == "ETag" then
            entry.etag = value
        elseif name == "Last-Modified" then
            entry.modified = ngx.parse_http_time(value)
        end
    end
    return entry
end

-- If-None-Match lists the ETag (weak or strong), or is "*".
local function listed(header, etag)
    for tag in header:gmatch("[^,]+") do
        tag = tag:match("^%s*(.-)%s*$"):gsub("^[Ww]/", "")
        if tag == "*" or tag == etag or '"' .. tag .. '"' == etag then
            return true
        end
    end
    return false
end

local function not_modified(var, entry)
    local if_none_match = var.http_if_none_match
    if if_none_match and if_none_match ~= "" then
        return if_none_match == entry.etag or listed(if_none_match, entry.etag)
    end
    local since = var.http_if_modified_since
    if not since then
        return false
    end
    since = ngx.parse_http_time(since)
    return since ~= nil and entry.modified <= since
end

local function send(headers)
    local header = ngx.header
    for i = 1, #headers do
        header[headers[i][1]] = headers[i][2]
    end
end

-- $feedsvc_app_only (a map in nginx.conf) is set when the request has a query string,
-- If-Match, If-Unmodified-Since or If-Range: only the app answers those exactly.
function M.access()
    local var = ngx.var
    local method = var.request_method
    if var.feedsvc_app_only ~= "" or (method ~= "GET" and method ~= "HEAD") then
        return ngx.exec("@app")
    end
    local root = var.document_root
    local uri = var.uri
    local encoding = var.http_accept_encoding
    if encoding and encoding:find("gzip", 1, true) then -- the app's own rule
        uri = uri .. ".gz"
    end
    local state = current(root)
    local entry = state.entries[uri]
    if not entry then
        local text = read(root .. uri .. ".headers")
        if not text then
            return ngx.exec("@app") -- not published (yet): the app renders or refuses it
        end
        entry = parse(text)
        if state.generation then
            state.entries[uri] = entry
        end
    end
    if not_modified(var, entry) then
        send(entry.not_modified)
        ngx.status = ngx.HTTP_NOT_MODIFIED
        ngx.send_headers()
        return ngx.exit(ngx.HTTP_OK)
    end
    send(entry.all)
    if uri ~= var.uri then
        ngx.req.set_uri(uri) -- nginx sends feed.atom.gz
    end
end

return M
