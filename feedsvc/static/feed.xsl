<?xml version="1.0" encoding="UTF-8"?>
<!--
  The browser view of a feedsvc feed: one XSLT 1.0 stylesheet for RSS 2.0 and Atom 1.0.
  Feeds name it in <?xml-stylesheet?>; the server applies it too (lxml) when a browser
  opens a feed, because browsers show feed media types as plain text. It reads nothing
  but the feed: the shared style.css sits beside it, found through the feed's own
  <?xml-stylesheet?> href, so the view works under any base_url path.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:media="http://search.yahoo.com/mrss/"
    exclude-result-prefixes="atom media">

  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:variable name="pi" select="/processing-instruction('xml-stylesheet')"/>
  <xsl:variable name="static" select="substring-before(substring-after($pi, 'href=&quot;'), 'feed.xsl')"/>
  <xsl:variable name="months" select="'JanFebMarAprMayJunJulAugSepOctNovDec'"/>

  <xsl:template match="/">
    <xsl:apply-templates select="atom:feed | rss/channel"/>
  </xsl:template>

  <xsl:template match="atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="atom:title"/>
      <xsl:with-param name="description" select="atom:subtitle"/>
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="self-type" select="'application/atom+xml'"/>
      <xsl:with-param name="home" select="atom:link[@rel='alternate' and @type='text/html']/@href"/>
      <xsl:with-param name="entries" select="atom:entry"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="rss/channel">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="title"/>
      <xsl:with-param name="description" select="description"/>
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="self-type" select="'application/rss+xml'"/>
      <xsl:with-param name="home" select="link"/>
      <xsl:with-param name="entries" select="item"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="title"/>
    <xsl:param name="description"/>
    <xsl:param name="self"/>
    <xsl:param name="self-type"/>
    <xsl:param name="home"/>
    <xsl:param name="entries"/>
    <html lang="en">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <link rel="alternate" type="{$self-type}" title="{$title}" href="{$self}"/>
        <link rel="stylesheet" href="{$static}style.css"/>
      </head>
      <body>
        <main>
          <h1><xsl:value-of select="$title"/></h1>
          <p><xsl:value-of select="$description"/></p>
          <p class="note">
            This is a web feed: copy this URL into your feed reader to follow it.
            <code><xsl:value-of select="$self"/></code>
          </p>
          <p class="meta">
            From <a href="{$home}"><xsl:value-of select="$home"/></a>,
            the newest <xsl:value-of select="count($entries)"/> entries.
          </p>
          <ol class="entries">
            <xsl:apply-templates select="$entries"/>
          </ol>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:variable name="day" select="substring(atom:published, 9, 2)"/>
    <xsl:variable name="month" select="substring(atom:published, 6, 2)"/>
    <xsl:call-template name="entry">
      <xsl:with-param name="link" select="atom:link[not(@rel) or @rel='alternate'][1]/@href"/>
      <xsl:with-param name="date"
          select="concat($day, ' ', substring($months, $month * 3 - 2, 3), ' ', substring(atom:published, 1, 4))"/>
      <xsl:with-param name="type" select="atom:category[substring(@scheme, string-length(@scheme) - 6) = '/types/']/@label"/>
      <xsl:with-param name="summary" select="atom:summary"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="item">
    <xsl:call-template name="entry">
      <xsl:with-param name="link" select="link"/>
      <xsl:with-param name="date" select="substring(pubDate, 6, 11)"/>
      <xsl:with-param name="type" select="category[contains(@domain, '/types/')]"/>
      <xsl:with-param name="summary" select="description"/>
    </xsl:call-template>
  </xsl:template>

  <!-- One entry; the title, image and caption are the same elements in both formats. -->
  <xsl:template name="entry">
    <xsl:param name="link"/>
    <xsl:param name="date"/>
    <xsl:param name="type"/>
    <xsl:param name="summary"/>
    <li>
      <h2><a href="{$link}"><xsl:value-of select="*[local-name()='title']"/></a></h2>
      <p class="meta">
        <span class="type"><xsl:value-of select="$type"/></span>
        <xsl:text> · </xsl:text>
        <xsl:value-of select="$date"/>
      </p>
      <!-- The caption is media:text: feedparser would fold media:description into the summary. -->
      <xsl:for-each select="media:thumbnail[1]">
        <figure>
          <img src="{@url}" alt="{../media:text}" loading="lazy"/>
          <figcaption><xsl:value-of select="../media:text"/></figcaption>
        </figure>
      </xsl:for-each>
      <!-- Summaries are HTML already cleaned of scripts and handlers by feedsvc. -->
      <div class="summary"><xsl:value-of select="$summary" disable-output-escaping="yes"/></div>
    </li>
  </xsl:template>
</xsl:stylesheet>
