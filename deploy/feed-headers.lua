-- feedsvc static tier: serve a published feed file with the app's exact headers.
--
-- feedsvc/export.py writes beside each feed file (feed.atom, feed.atom.gz) a
-- "<file>.headers" file: the Content-Type, Content-Encoding, ETag, Last-Modified,
-- Vary and Cache-Control lines the app sends for those bytes. This script (nginx
-- access phase) sends those headers and answers conditional requests by the app's
-- rules (werkzeug's): If-None-Match decides when present, compared weakly; else
-- If-Modified-Since, not modified when Last-Modified <= the given date. A 304
-- carries ETag, Vary and Cache-Control only, like the app's. nginx then sends the
-- file itself. Whatever it cannot answer exactly goes to the app.

local var = ngx.var
local method = ngx.req.get_method()

if var.args or (method ~= "GET" and method ~= "HEAD")
    or var.http_if_match or var.http_if_unmodified_since or var.http_if_range then
    return ngx.exec("@app")
end

local file = io.open(var.document_root .. var.uri .. var.feedsvc_gz .. ".headers", "rb")
if not file then
    return ngx.exec("@app")  -- not published (yet): the app renders or refuses it
end
local sent = {}
for line in file:lines() do
    local name, value = line:match("^([%w-]+): (.*)$")
    if name then
        sent[name] = value
        ngx.header[name] = value
    end
end
file:close()

-- If-None-Match lists the ETag (W/ or not), or is "*".
local function listed(header, etag)
    for tag in header:gmatch("[^,]+") do
        tag = tag:match("^%s*(.-)%s*$"):gsub("^[Ww]/", "")
        if tag == "*" or tag == etag or '"' .. tag .. '"' == etag then
            return true
        end
    end
    return false
end

local function not_modified()
    local if_none_match = var.http_if_none_match
    if if_none_match and if_none_match ~= "" then
        return listed(if_none_match, sent["ETag"])
    end
    local since = var.http_if_modified_since
    if not since then
        return false
    end
    since = ngx.parse_http_time(since)
    return since ~= nil and ngx.parse_http_time(sent["Last-Modified"]) <= since
end

if not_modified() then
    ngx.header["Content-Type"] = nil
    ngx.header["Content-Encoding"] = nil
    ngx.header["Last-Modified"] = nil
    ngx.status = ngx.HTTP_NOT_MODIFIED
    ngx.send_headers()
    return ngx.exit(ngx.HTTP_OK)
end
